-- domain_edges join two different registered domains: no edge from a domain to itself.
select src_domain, dst_domain, links
from domain_edges
where src_domain = dst_domain;

-- No two rows of domain_edges share its key (src_domain, dst_domain).
select src_domain, dst_domain, count(*) as rows
from domain_edges
group by src_domain, dst_domain
having count(*) > 1;

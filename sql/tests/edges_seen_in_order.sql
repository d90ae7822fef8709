-- first_seen <= last_seen on every host and domain edge, and both are crawls of the graph.
select 'host_edges' as edges, src_host as src, dst_host as dst, first_seen, last_seen
from host_edges
where first_seen > last_seen
   or first_seen not in (select crawl from crawls)
   or last_seen not in (select crawl from crawls)
union all
select 'domain_edges', src_domain, dst_domain, first_seen, last_seen
from domain_edges
where first_seen > last_seen
   or first_seen not in (select crawl from crawls)
   or last_seen not in (select crawl from crawls);

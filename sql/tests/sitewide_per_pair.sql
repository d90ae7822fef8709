-- sitewide is a property of a (source host, target domain) pair: all its links carry the
-- same value, and so do its host edges.
select src_host, dst_domain, list(distinct sitewide) as values
from (
    select src_host, dst_domain, sitewide from links
    union all
    select src_host, dst_domain, sitewide from host_edges
)
group by src_host, dst_domain
having count(distinct sitewide) > 1;

-- The host edges between two different registered domains add up to their domain edge:
-- the same (src_domain, dst_domain) pairs, the same links, nofollow_links, src_hosts,
-- first_seen and last_seen.
with from_hosts as (
    select
        src_domain, dst_domain,
        sum(links) as links,
        sum(nofollow_links) as nofollow_links,
        count(distinct src_host) as src_hosts,
        min(first_seen) as first_seen,
        max(last_seen) as last_seen
    from host_edges
    where src_domain <> dst_domain
    group by src_domain, dst_domain
)

select
    coalesce(h.src_domain, d.src_domain) as src_domain,
    coalesce(h.dst_domain, d.dst_domain) as dst_domain,
    h.links as host_edge_links, d.links as domain_edge_links,
    h.nofollow_links as host_edge_nofollow, d.nofollow_links as domain_edge_nofollow,
    h.src_hosts as host_edge_src_hosts, d.src_hosts as domain_edge_src_hosts
from from_hosts as h
full outer join domain_edges as d
    on h.src_domain = d.src_domain and h.dst_domain = d.dst_domain
where h.links is distinct from d.links
   or h.nofollow_links is distinct from d.nofollow_links
   or h.src_hosts is distinct from d.src_hosts
   or h.first_seen is distinct from d.first_seen
   or h.last_seen is distinct from d.last_seen;

-- A host's counts are its rows elsewhere: pages_crawled its rows in pages, out_hosts and
-- in_hosts its host edges out and in, in_domains the other registered domains linking to
-- it. Every host is crawled or on an edge.
with counted as (
    select
        host,
        (select count(*) from pages where pages.host = hosts.host) as pages,
        (select count(*) from host_edges where src_host = hosts.host) as out_edges,
        (select count(*) from host_edges where dst_host = hosts.host) as in_edges,
        (select count(distinct src_domain) from host_edges
         where dst_host = hosts.host and src_domain <> dst_domain) as referring_domains,
        pages_crawled, out_hosts, in_hosts, in_domains
    from hosts
)

select *
from counted
where pages_crawled <> pages
   or out_hosts <> out_edges
   or in_hosts <> in_edges
   or in_domains <> referring_domains
   or pages + out_edges + in_edges = 0;

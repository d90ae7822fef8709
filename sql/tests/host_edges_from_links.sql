-- host_edges is links grouped by (src_host, dst_host): the same pairs, and per pair the
-- domains, links, distinct pages, nofollow links, first and last crawl and sitewide flag.
with from_links as (
    select
        src_host, dst_host,
        any_value(src_domain) as src_domain,
        any_value(dst_domain) as dst_domain,
        count(*) as links,
        count(distinct src_url) as pages,
        count(*) filter (where nofollow) as nofollow_links,
        min(crawl) as first_seen,
        max(crawl) as last_seen,
        bool_or(sitewide) as sitewide
    from links
    group by src_host, dst_host
)

select
    coalesce(l.src_host, e.src_host) as src_host,
    coalesce(l.dst_host, e.dst_host) as dst_host,
    l.links as link_rows, e.links as edge_links,
    l.pages as link_pages, e.pages as edge_pages
from from_links as l
full outer join host_edges as e on l.src_host = e.src_host and l.dst_host = e.dst_host
where l.src_domain is distinct from e.src_domain
   or l.dst_domain is distinct from e.dst_domain
   or l.links is distinct from e.links
   or l.pages is distinct from e.pages
   or l.nofollow_links is distinct from e.nofollow_links
   or l.first_seen is distinct from e.first_seen
   or l.last_seen is distinct from e.last_seen
   or l.sitewide is distinct from e.sitewide;

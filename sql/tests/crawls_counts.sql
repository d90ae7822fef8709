-- A crawl's pages, hosts, links, external_links, first_fetch and last_fetch are those of
-- its rows in pages and links; every crawl has pages.
with per_page as (
    select crawl, count(*) as pages, count(distinct host) as hosts,
        min(fetch_time) as first_fetch, max(fetch_time) as last_fetch
    from pages
    group by crawl
),

per_link as (
    select crawl, count(*) as links, count(*) filter (where external) as external_links
    from links
    group by crawl
)

select crawls.*, per_page.pages as page_rows, coalesce(per_link.links, 0) as link_rows
from crawls
left join per_page on per_page.crawl = crawls.crawl
left join per_link on per_link.crawl = crawls.crawl
where per_page.crawl is null
   or crawls.pages <> per_page.pages
   or crawls.hosts <> per_page.hosts
   or crawls.first_fetch <> per_page.first_fetch
   or crawls.last_fetch <> per_page.last_fetch
   or crawls.links <> coalesce(per_link.links, 0)
   or crawls.external_links <> coalesce(per_link.external_links, 0);

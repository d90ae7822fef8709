-- Every external link of a page is stored (another domain is another host), so a page's
-- links_external equals its rows of external_links, and its other stored links (to other
-- hosts of its own domain) are at most links_internal.
with per_page as (
    select crawl, src_url, count(*) filter (where external) as external,
        count(*) filter (where not external) as internal
    from links
    group by crawl, src_url
)

select pages.crawl, pages.url, pages.links_external, coalesce(per_page.external, 0) as stored_external,
    pages.links_internal, coalesce(per_page.internal, 0) as stored_internal
from pages
left join per_page on per_page.crawl = pages.crawl and per_page.src_url = pages.url
where pages.links_external <> coalesce(per_page.external, 0)
   or pages.links_internal < coalesce(per_page.internal, 0);

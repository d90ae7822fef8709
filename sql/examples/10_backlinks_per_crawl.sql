-- How the graph's backlinks spread over the crawls it holds: pages, backlinks and the
-- referring and linked domains each crawl contributes.
select
    crawl,
    count(distinct src_url) as linking_pages,
    count(*) as backlinks,
    count(distinct src_domain) as referring_domains,
    count(distinct dst_domain) as linked_domains,
    round(count(*) filter (where dofollow) / count(*), 3) as dofollow_share
from external_links
group by crawl
order by crawl;

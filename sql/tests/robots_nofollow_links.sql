-- Every link of a page whose meta robots or X-Robots-Tag says nofollow is nofollow.
select links.crawl, links.src_url, links.dst_url
from links
join pages on pages.crawl = links.crawl and pages.url = links.src_url
where pages.robots_nofollow and not links.nofollow;

-- Sitewide links: a host that links to another domain from most of its crawled pages
-- (blogrolls, footers, paid placements). One row per (host, linked domain).
select
    src_host,
    dst_domain,
    count(distinct src_url) as linking_pages,
    any_value(hosts.pages_crawled) as pages_crawled,
    list(distinct context order by context) as contexts
from external_links
join hosts on hosts.host = external_links.src_host
where sitewide
group by src_host, dst_domain
order by linking_pages desc, src_host, dst_domain;

-- Pages that send visitors or search engines to another host: HTTP redirects, meta
-- refreshes and canonicals pointing elsewhere (site moves, www/non-www, syndication).
-- external = true when the other host is on another registered domain.
select link_type, src_url, dst_url, external, crawl
from links
where link_type in ('redirect', 'refresh', 'canonical')
order by external desc, link_type, src_url;

-- links holds only links whose target host differs from the source host (same-host links
-- are counted in pages.links_internal, not stored).
select crawl, src_url, dst_url
from links
where src_host = dst_host;

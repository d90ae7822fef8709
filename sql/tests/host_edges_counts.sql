-- Every host edge has links >= pages >= 1 (occurrences, distinct source pages) and
-- 0 <= nofollow_links <= links.
select src_host, dst_host, links, pages, nofollow_links
from host_edges
where not (links >= pages and pages >= 1 and nofollow_links between 0 and links);

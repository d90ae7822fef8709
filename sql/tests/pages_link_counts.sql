-- A page's links_internal and links_external are counts: never negative.
select crawl, url, links_internal, links_external
from pages
where links_internal < 0 or links_external < 0;

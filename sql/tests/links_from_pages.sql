-- Every link comes from a row of pages: its (crawl, src_url, fetch_time) is a kept capture
-- (the links of a superseded capture of the same URL are dropped with it).
select crawl, src_url, fetch_time, count(*) as links
from links
where (crawl, src_url, fetch_time) not in (select (crawl, url, fetch_time) from pages)
group by all;

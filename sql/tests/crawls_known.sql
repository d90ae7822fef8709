-- Every crawl of a link or a page is a row of crawls.
select 'links' as rows_of, crawl, count(*) as rows
from links
where crawl not in (select crawl from crawls)
group by crawl
union all
select 'pages', crawl, count(*)
from pages
where crawl not in (select crawl from crawls)
group by crawl;

-- No two rows of crawls share its key (crawl).
select crawl, count(*) as rows
from crawls
group by crawl
having count(*) > 1;

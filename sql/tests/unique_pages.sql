-- No two rows of pages share its key (crawl, url).
select crawl, url, count(*) as rows
from pages
group by crawl, url
having count(*) > 1;

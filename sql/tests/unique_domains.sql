-- No two rows of domains share its key (domain).
select domain, count(*) as rows
from domains
group by domain
having count(*) > 1;

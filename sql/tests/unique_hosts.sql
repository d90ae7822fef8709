-- No two rows of hosts share its key (host).
select host, count(*) as rows
from hosts
group by host
having count(*) > 1;

-- No two rows of host_edges share its key (src_host, dst_host).
select src_host, dst_host, count(*) as rows
from host_edges
group by src_host, dst_host
having count(*) > 1;

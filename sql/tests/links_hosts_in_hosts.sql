-- Every source and target host of a link is a row of hosts.
select 'src_host' as side, src_host as host, count(*) as links
from links
where src_host not in (select host from hosts)
group by src_host
union all
select 'dst_host', dst_host, count(*)
from links
where dst_host not in (select host from hosts)
group by dst_host;

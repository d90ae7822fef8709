-- A host has one registered domain: the one hosts gives it is the domain of the host in
-- every link (both sides), page and host edge (both sides).
with named as (
    select 'links.src' as source, src_host as host, src_domain as domain from links
    union all
    select 'links.dst', dst_host, dst_domain from links
    union all
    select 'pages', host, domain from pages
    union all
    select 'host_edges.src', src_host, src_domain from host_edges
    union all
    select 'host_edges.dst', dst_host, dst_domain from host_edges
)

select named.source, named.host, named.domain, hosts.domain as hosts_domain, count(*) as rows
from named
left join hosts on hosts.host = named.host
where hosts.domain is distinct from named.domain
group by all;

-- host_edges join two different hosts: no edge from a host to itself.
select src_host, dst_host, links
from host_edges
where src_host = dst_host;

-- domains is the registered domains of hosts: every host's domain is a row of domains, and
-- a domain's hosts and pages_crawled add up its hosts' rows.
with from_hosts as (
    select domain, count(*) as hosts, sum(pages_crawled) as pages_crawled
    from hosts
    group by domain
)

select coalesce(h.domain, d.domain) as domain, h.hosts as host_rows, d.hosts,
    h.pages_crawled as host_pages_crawled, d.pages_crawled
from from_hosts as h
full outer join domains as d on d.domain = h.domain
where h.hosts is distinct from d.hosts
   or h.pages_crawled is distinct from d.pages_crawled;

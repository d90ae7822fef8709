-- Every domain edge has links >= pages >= src_hosts >= 1 (a source page belongs to one
-- host) and 0 <= nofollow_links <= links.
select src_domain, dst_domain, links, pages, src_hosts, nofollow_links
from domain_edges
where not (links >= pages and pages >= src_hosts and src_hosts >= 1
           and nofollow_links between 0 and links);

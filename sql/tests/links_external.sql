-- links.external, the one definition of an external link (a backlink of dst_domain), is
-- src_domain <> dst_domain; the external_links view and the macros read it.
select crawl, src_url, dst_url, src_domain, dst_domain, external
from links
where external <> (src_domain <> dst_domain);

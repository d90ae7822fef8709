-- Outbound link policies: which domains mark their external links nofollow, ugc or
-- sponsored, and how consistently (a share near 1 is a site-wide policy).
select
    src_domain,
    count(*) as external_links,
    round(count(*) filter (where nofollow) / count(*), 3) as nofollow_share,
    round(count(*) filter (where ugc) / count(*), 3) as ugc_share,
    round(count(*) filter (where sponsored) / count(*), 3) as sponsored_share
from external_links
group by src_domain
having count(*) >= 5
order by external_links desc, src_domain;

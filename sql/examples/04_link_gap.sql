-- Link gap: domains that link to both twitter.com and facebook.com (two "competitors")
-- but not to hackerspaces.be (the site we work for): outreach candidates.
select referring_domain, authority, links_to_a, links_to_b
from common_referring_domains('twitter.com', 'facebook.com')
where referring_domain not in (
    select referring_domain from referring_domains('hackerspaces.be')
)
order by authority desc, referring_domain;

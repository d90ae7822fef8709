-- Which sites link to google.com, the strongest first, and do they pass authority?
-- referring_domains already orders by authority; keep the columns an SEO report shows.
select referring_domain, authority, pages, links, dofollow_share, top_anchors
from referring_domains('google.com')
limit 10;

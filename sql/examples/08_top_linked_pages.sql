-- The pages of google.com that attract links, and with which words.
select page, referring_domains, links, dofollow_links, top_anchors
from top_pages('google.com')
limit 10;

-- Editorial backlinks of google.com: dofollow links in the body of the page, not in menus,
-- footers or sidebars, and not repeated across a whole site (sitewide).
select src_url, dst_url, anchor
from backlinks('google.com')
where dofollow
  and context = 'body'
  and not sitewide
order by src_url, dst_url;

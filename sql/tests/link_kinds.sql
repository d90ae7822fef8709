-- link_type and context take their documented values, and the non-anchor kinds their
-- fixed context with an empty anchor: canonical and refresh in head, redirect in http
-- (from a 3xx page); anchors are at most 256 characters.
select links.crawl, links.src_url, links.dst_url, link_type, context, anchor, pages.status
from links
left join pages on pages.crawl = links.crawl and pages.url = links.src_url
where link_type not in ('a', 'img', 'area', 'canonical', 'refresh', 'redirect')
   or context not in ('nav', 'header', 'footer', 'aside', 'body', 'head', 'http', 'unknown')
   or (link_type in ('canonical', 'refresh')) <> (context = 'head')
   or (link_type = 'redirect') <> (context = 'http')
   or (link_type in ('canonical', 'refresh', 'redirect') and anchor <> '')
   or (link_type = 'redirect' and pages.status not between 300 and 399)
   or length(anchor) > 256;

-- links.dofollow, computed once at aggregation, is not (nofollow or ugc or sponsored).
select crawl, src_url, dst_url, nofollow, ugc, sponsored, dofollow
from links
where dofollow <> not (nofollow or ugc or sponsored);

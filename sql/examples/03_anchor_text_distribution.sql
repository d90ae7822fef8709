-- The anchor text profile of google.com: the share of its backlinks per anchor text.
-- A natural profile is spread out; one commercial anchor dominating is a warning sign.
select
    coalesce(nullif(anchor, ''), '(empty)') as anchor,
    links,
    round(links / sum(links) over (), 3) as share,
    referring_domains
from anchors('google.com')
order by links desc, anchor;

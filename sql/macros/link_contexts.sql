-- link_contexts(target): the backlinks of a domain or host broken down by where they sit
-- on the linking page (nav, header, footer, aside, body; head for canonical and refresh,
-- http for redirects, unknown for links read from WAT files). One row per context present.
-- Columns: context, links, share (of the target's backlinks), referring_domains,
-- dofollow_links, sitewide_links. Order: most links first.
create or replace macro link_contexts(target) as table
with final as (
    select
        context,
        count(*) as links,
        round(count(*) / sum(count(*)) over (), 3) as share,
        count(distinct src_domain) as referring_domains,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where sitewide) as sitewide_links
    from target_backlinks(target)
    group by context
)

select * from final
order by links desc, context;

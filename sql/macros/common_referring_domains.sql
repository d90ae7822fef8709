-- common_referring_domains(a, b): one row per registered domain that links to both a and b
-- (each a domain or host): the classic link intersect, e.g. sites that link to two
-- competitors. Columns: referring_domain, authority (0-100), links_to_a, links_to_b,
-- dofollow_to_a, dofollow_to_b, pages_to_a, pages_to_b.
-- Order: highest authority first, then most links to both.
create or replace macro common_referring_domains(a, b) as table
with both_targets as (
    select 'a' as side, * from target_backlinks(a)
    union all
    select 'b' as side, * from target_backlinks(b)
),

per_side as (
    select
        src_domain,
        side,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow,
        count(distinct src_url) as pages
    from both_targets
    group by src_domain, side
),

to_a as (select * from per_side where side = 'a'),

to_b as (select * from per_side where side = 'b'),

final as (
    select
        to_a.src_domain as referring_domain,
        domains.authority,
        to_a.links as links_to_a,
        to_b.links as links_to_b,
        to_a.dofollow as dofollow_to_a,
        to_b.dofollow as dofollow_to_b,
        to_a.pages as pages_to_a,
        to_b.pages as pages_to_b
    from to_a
    inner join to_b on to_a.src_domain = to_b.src_domain
    left join domains on domains.domain = to_a.src_domain
)

select * from final
order by authority desc, links_to_a + links_to_b desc, referring_domain;

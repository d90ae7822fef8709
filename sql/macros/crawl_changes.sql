-- previous_crawl(crawl_id): the crawl of the graph just before crawl_id (crawl ids sort by
-- time: CC-MAIN-YYYY-WW); null for the first. 'local' (no crawl id) is never a previous crawl.
create or replace macro previous_crawl(crawl_id) as (
    select max(crawl) from crawls where crawl < crawl_id and crawl <> 'local'
);

-- referring_domains_in(target, crawl_id): per referring domain of a domain or host, its
-- backlinks in one crawl only (a helper of the two macros below).
create or replace macro referring_domains_in(target, crawl_id) as table
select
    src_domain as referring_domain,
    count(*) as links,
    count(distinct src_url) as pages,
    count(*) filter (where dofollow) as dofollow_links
from target_backlinks(target)
where crawl = crawl_id
group by src_domain;

-- new_referring_domains(target, crawl_id): one row per registered domain that links to the
-- target in crawl_id and did not in the crawl before it (every referring domain of the
-- first crawl is new). Columns: referring_domain, authority, links, pages, dofollow_links
-- (in crawl_id), previous_crawl. Nothing for a crawl the graph does not hold.
-- Order: highest authority first, then most links.
create or replace macro new_referring_domains(target, crawl_id) as table
with now_linking as (
    select * from referring_domains_in(target, crawl_id)
),

before as (
    select referring_domain from referring_domains_in(target, previous_crawl(crawl_id))
)

select
    now_linking.referring_domain,
    domains.authority,
    links, pages, dofollow_links,
    previous_crawl(crawl_id) as previous_crawl
from now_linking
left join domains on domains.domain = now_linking.referring_domain
where now_linking.referring_domain not in (select referring_domain from before)
order by authority desc, links desc, now_linking.referring_domain;

-- lost_referring_domains(target, crawl_id): one row per registered domain that linked to
-- the target in the crawl before crawl_id and does not in crawl_id. Columns:
-- referring_domain, authority, links, pages, dofollow_links (in that previous crawl),
-- previous_crawl. Nothing for the first crawl or a crawl the graph does not hold.
create or replace macro lost_referring_domains(target, crawl_id) as table
with before as (
    select * from referring_domains_in(target, previous_crawl(crawl_id))
),

now_linking as (
    select referring_domain from referring_domains_in(target, crawl_id)
)

select
    before.referring_domain,
    domains.authority,
    links, pages, dofollow_links,
    previous_crawl(crawl_id) as previous_crawl
from before
left join domains on domains.domain = before.referring_domain
where before.referring_domain not in (select referring_domain from now_linking)
  and exists (select 1 from crawls where crawl = crawl_id)
order by authority desc, links desc, before.referring_domain;

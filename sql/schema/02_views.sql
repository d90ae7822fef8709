-- external_links: one row per link occurrence between two registered domains (backlinks).
-- The one definition of an external link in SQL: links.external (src_domain <> dst_domain,
-- stored at extraction); the macros read this view.
create or replace view external_links as
select * from links where external;

-- graph_summary: one row: the size of the graph and the crawls it covers.
create or replace view graph_summary as
select
    (select count(*) from pages)                  as pages,
    (select count(*) from links)                  as links,
    (select count(*) from host_edges)             as host_edges,
    (select count(*) from domain_edges)           as domain_edges,
    (select count(*) from hosts)                  as hosts,
    (select count(*) from domains)                as domains,
    (select list(distinct crawl order by crawl) from pages) as crawls;

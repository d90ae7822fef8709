-- A domain's out_domains and in_domains are its domain edges out and in.
with counted as (
    select
        domain,
        (select count(*) from domain_edges where src_domain = domains.domain) as out_edges,
        (select count(*) from domain_edges where dst_domain = domains.domain) as in_edges,
        out_domains, in_domains
    from domains
)

select *
from counted
where out_domains <> out_edges or in_domains <> in_edges;

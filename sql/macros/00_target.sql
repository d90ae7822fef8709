-- matches_target(domain, host, target): true for a row whose domain or host is the target
-- ('example.com' or 'blog.example.com', any case, trailing dot ignored). The table macros
-- filter their links with it.
--
-- Targets are matched as the graph spells hosts, in punycode: an internationalized name must
-- be given as referring_domains('xn--bcher-kva.de'), not 'bücher.de' (DuckDB has no IDNA
-- function, so no macro can convert it; `backlinks query`, `report` and `export` do, and
-- docs/sql.md says how to convert one in Python).
--
-- It first tests `domain in (target, its suffixes of 2 to 6 labels)` (a host's registered
-- domain is always one of them): an IN list of constants lets DuckDB skip every row group
-- of other domains (links are stored sorted by dst_domain), where the exact test alone, an
-- OR of two columns, would read the whole table.
create or replace macro target_name(target) as lower(trim(target, '. '));

create or replace macro target_suffix(target, labels) as
    array_to_string(string_split(target_name(target), '.')[-labels:], '.');

-- target_candidates(target): the names the target's registered domain can be (the target
-- itself and its suffixes of 2 to 6 labels), for the IN list above and for finding the
-- target's partition.
create or replace macro target_candidates(target) as list_distinct([
    target_name(target), target_suffix(target, 2), target_suffix(target, 3),
    target_suffix(target, 4), target_suffix(target, 5), target_suffix(target, 6)
]);

-- partition_of(name, partitions): the partition (0 to partitions - 1) of a registered domain
-- or host, as the pipeline splits its files (pipeline/partitions.py): the first 32 bits of
-- the name's MD5, modulo the data location's partition count. The links of a domain are all
-- in the file of its partition (graph/links/pNNNN.parquet).
create or replace macro partition_of(name, partitions) as
    (('0x' || md5(name)[1:8])::ubigint % partitions)::integer;

create or replace macro matches_target(domain, host, target) as
    domain in (
        target_name(target), target_suffix(target, 2), target_suffix(target, 3),
        target_suffix(target, 4), target_suffix(target, 5), target_suffix(target, 6)
    )
    and (domain = target_name(target) or host = target_name(target));

-- target_backlinks(target): the external links (the external_links view) into a domain or
-- host (every macro about a target starts from it; DuckDB still prunes the row groups of
-- other domains through the view and the macro).
create or replace macro target_backlinks(target) as table
select * from external_links where matches_target(dst_domain, dst_host, target);

-- target_referrals(target): the referrals rows (one per referring domain, counted at
-- aggregation) of a target that is a registered domain; none for any other host.
create or replace macro target_referrals(target) as table
select * from referrals where dst_domain = target_name(target);

-- target_profile(target): the domain_profiles row of a target that is a registered domain
-- with backlinks; none for any other name.
create or replace macro target_profile(target) as table
select * from domain_profiles where dst_domain = target_name(target);

-- target_authority(target): the authority (0-100) of a registered domain (domains) or,
-- when the target is not one, of a host (hosts); null when the graph has neither.
create or replace macro target_authority(target) as coalesce(
    (select authority from domains where domain = target_name(target)),
    (select authority from hosts where host = target_name(target))
);

-- top_anchor_list(uses, n): the n most used anchors of a histogram(anchor) map, most used
-- first (ties in anchor order); [] for none.
create or replace macro top_anchor_list(uses, n) as coalesce(
    list_transform(
        list_sort(list_transform(map_entries(uses), e -> {'uses': -e.value, 'anchor': e.key}))[1:n],
        x -> x.anchor
    ),
    []
);

-- matches_target(domain, host, target): true for a row whose domain or host is the target
-- ('example.com' or 'blog.example.com', any case, trailing dot ignored). The table macros
-- filter their links with it.
--
-- It first tests `domain in (target, its suffixes of 2 to 6 labels)` (a host's registered
-- domain is always one of them): an IN list of constants lets DuckDB skip every row group
-- of other domains (links are stored sorted by dst_domain), where the exact test alone, an
-- OR of two columns, would read the whole table.
create or replace macro target_suffix(target, labels) as
    array_to_string(string_split(lower(trim(target, '. ')), '.')[-labels:], '.');

create or replace macro matches_target(domain, host, target) as
    domain in (
        lower(trim(target, '. ')), target_suffix(target, 2), target_suffix(target, 3),
        target_suffix(target, 4), target_suffix(target, 5), target_suffix(target, 6)
    )
    and (domain = lower(trim(target, '. ')) or host = lower(trim(target, '. ')));

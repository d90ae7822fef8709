-- target_suffix(target, labels): the last `labels` labels of a normalised target
-- ('blog.example.co.uk', 3 -> 'example.co.uk').
-- The table macros look a target up as `dst_domain in (target, its suffixes of 2 to 6
-- labels)` before the exact test `dst_domain = target or dst_host = target`: a host's
-- registered domain is always one of those suffixes, and an IN list of constants lets
-- DuckDB skip every row group of other domains (links are stored sorted by dst_domain),
-- where the OR alone would read the whole table.
create or replace macro target_suffix(target, labels) as
    array_to_string(string_split(lower(trim(target, '. ')), '.')[-labels:], '.');

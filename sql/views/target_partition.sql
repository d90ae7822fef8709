-- Applied after sql/macros/ to a database of views only (database = "views"), where the
-- link table is a view over one Parquet file per partition: target_backlinks(target) reads
-- only the files of the partitions the target's registered domain can be in (at most six,
-- usually two), not every file, and target_referrals(target) and target_profile(target)
-- only the referral and profile files of the target's own partition.
-- link_partition_files(), referral_partition_files() and profile_partition_files() are
-- written by the publish step: a list whose item i + 1 lists the files of partition i (one,
-- or one per sub-bucket when the partition was reduced in sub-buckets). (hosts and domains
-- stay tables there, sorted by name: target_authority and the joins on them need nothing of
-- this file.)
--
-- DuckDB folds the file list to constants when the macro is called with a constant target,
-- so a plain DuckDB client gets the same pruning (EXPLAIN ANALYZE: "Total Files Read").
create or replace macro target_link_files(target) as flatten(list_distinct(list_transform(
    target_candidates(target),
    name -> link_partition_files()[partition_of(name, len(link_partition_files())) + 1]
)));

create or replace macro target_backlinks(target) as table
select * from read_parquet(target_link_files(target))
where external and matches_target(dst_domain, dst_host, target);

create or replace macro target_referrals(target) as table
select * from read_parquet(referral_partition_files()[
    partition_of(target_name(target), len(referral_partition_files())) + 1])
where dst_domain = target_name(target);

create or replace macro target_profile(target) as table
select * from read_parquet(profile_partition_files()[
    partition_of(target_name(target), len(profile_partition_files())) + 1])
where dst_domain = target_name(target);

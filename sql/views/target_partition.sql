-- Applied after sql/macros/ to a database of views only (database = "views"), where the
-- link table is a view over one Parquet file per partition: target_backlinks(target) reads
-- only the files of the partitions the target's registered domain can be in (at most six,
-- usually two), not every file. link_partition_files() is written by the publish step: a
-- list whose item i + 1 lists the link files of partition i (one, or one per sub-bucket
-- when the partition was reduced in sub-buckets).
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

-- target_authority(target), as in sql/macros/00_target.sql, reading the one file of the
-- target's partition of domains and of hosts (domain_partition_files(),
-- host_partition_files(): split by domain and by host) instead of every file.
create or replace macro target_authority(target) as coalesce(
    (select authority from read_parquet(flatten([domain_partition_files()[
        partition_of(target_name(target), len(domain_partition_files())) + 1]]))
     where domain = target_name(target)),
    (select authority from read_parquet(flatten([host_partition_files()[
        partition_of(target_name(target), len(host_partition_files())) + 1]]))
     where host = target_name(target))
);

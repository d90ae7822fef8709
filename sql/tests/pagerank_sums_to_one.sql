-- PageRank sums to 1 over all hosts, and over all domains (unless ranks = false: null).
select 'hosts' as tbl, sum(pagerank) as total from hosts
having count(pagerank) > 0 and abs(sum(pagerank) - 1) > 1e-6
union all
select 'domains', sum(pagerank) from domains
having count(pagerank) > 0 and abs(sum(pagerank) - 1) > 1e-6;

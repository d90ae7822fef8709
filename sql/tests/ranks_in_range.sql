-- The rank columns of hosts and domains, when not null (ranks = false leaves them null):
-- authority between 0 and 100, pagerank between 0 and 1, harmonic >= 0, positions between
-- 1 and the row count; either all five are null or none is.
with ranked as (
    select 'hosts' as tbl, host as name, pagerank, harmonic, pagerank_position,
        harmonic_position, authority, count(*) over () as n
    from hosts
    union all
    select 'domains', domain, pagerank, harmonic, pagerank_position, harmonic_position,
        authority, count(*) over ()
    from domains
)

select tbl, name, pagerank, harmonic, pagerank_position, harmonic_position, authority
from ranked
where authority not between 0 and 100
   or pagerank not between 0 and 1
   or harmonic < 0
   or pagerank_position not between 1 and n
   or harmonic_position not between 1 and n
   or (pagerank is null)::int + (harmonic is null)::int + (pagerank_position is null)::int
      + (harmonic_position is null)::int + (authority is null)::int not in (0, 5);

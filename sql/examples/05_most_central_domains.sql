-- The most central domains of the graph by harmonic centrality (Common Crawl's ranking),
-- with their PageRank position beside it: where the two disagree is worth a look.
select domain, harmonic_position, pagerank_position, authority, in_domains, hosts
from domains
order by harmonic_position, pagerank_position, domain
limit 10;

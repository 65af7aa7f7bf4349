/**
 * The analytical benchmark's data: a snowflake schema (a sales fact table, five dimensions, one of them split in
 * two) generated in SQL with generate_series. Deterministic: every value is a function of the row number through
 * hashint8 (no random(), no setseed), so the harness primary and the pg_qualstats cluster hold the same rows.
 * About 1 GB at scale 1 (sales: 10M rows, ~0.9 GB). Tables are UNLOGGED: the primary streams WAL to a replica, and a
 * benchmark's gigabyte has no business there; the planner costs unlogged tables like logged ones.
 */

export interface Sizes {
  sales: number
  customers: number
  products: number
}

/** Row counts at a scale: the fact table and the two large dimensions scale, the small dimensions do not. */
export function sizesAt(scale: number): Sizes {
  return {
    sales: Math.max(20_000, Math.round(10_000_000 * scale)),
    customers: Math.max(2_000, Math.round(500_000 * scale)),
    products: Math.max(1_000, Math.round(100_000 * scale)),
  }
}

/** Days in date_dim (1998-01-01 .. 2004-12-31); the fact's date_key is the day number 1..DAYS. */
export const DAYS = 2557

/** A marker kept as the database comment: a database is reused only when it says the same. */
export function marker(scale: number, keys: boolean): string {
  return `cp-bench-index-analytical v1 scale=${scale} keys=${keys}`
}

/**
 * The generation script. `r(g, salt)` is a deterministic pseudo-random fraction in [0, 1) of row g: hashint8 is
 * the hash the server uses for hash partitioning, stable for one PostgreSQL build. Run with
 * pg_stat_statements.track = none (run.ts): the load is not the workload.
 */
export function generationSql(scale: number): string {
  const n = sizesAt(scale)
  return `
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE FUNCTION r(g bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS 'SELECT (hashint8(g * 1000 + salt)::float8 + 2147483648) / 4294967296';

CREATE UNLOGGED TABLE date_dim (d_datekey int NOT NULL, d_date date NOT NULL, d_year int, d_month int, d_week int, d_dow int,
  d_quarter int, d_holiday boolean);
INSERT INTO date_dim SELECT g, date '1997-12-31' + g, extract(year FROM date '1997-12-31' + g), extract(month FROM date '1997-12-31' + g),
  extract(week FROM date '1997-12-31' + g), extract(dow FROM date '1997-12-31' + g), extract(quarter FROM date '1997-12-31' + g),
  r(g, 1) < 0.03 FROM generate_series(1, ${DAYS}) g;

CREATE UNLOGGED TABLE category (cat_id int NOT NULL, cat_name text, department text);
INSERT INTO category SELECT g, 'category ' || g, (ARRAY['garden','kitchen','toys','books','sports','music','tools','beauty','auto','office'])[1 + g % 10]
  FROM generate_series(1, 100) g;

CREATE UNLOGGED TABLE product (p_productkey int NOT NULL, p_name text, p_category_id int, p_brand text, p_color text, p_size int,
  p_container text, p_price numeric(10,2));
INSERT INTO product SELECT g, 'product ' || g, 1 + floor(r(g, 2) * 100)::int, 'Brand#' || (1 + floor(r(g, 3) * 1000)::int),
  'color' || (1 + floor(r(g, 4) * 50)::int), 1 + floor(r(g, 5) * 50)::int,
  (ARRAY['SM BOX','SM PACK','MED BOX','MED BAG','LG BOX','LG CASE','JUMBO PACK','WRAP CASE'])[1 + floor(r(g, 6) * 8)::int],
  round((1 + r(g, 7) * 999)::numeric, 2) FROM generate_series(1, ${n.products}) g;

CREATE UNLOGGED TABLE customer (c_custkey int NOT NULL, c_name text, c_city text, c_nation text, c_region text, c_segment text,
  c_signup_date date);
INSERT INTO customer SELECT g, 'Customer#' || lpad(g::text, 9, '0'), nation || ' ' || (floor(r(g, 9) * 10)::int), nation,
  (ARRAY['AFRICA','AMERICA','ASIA','EUROPE','MIDDLE EAST'])[1 + nk % 5],
  (ARRAY['AUTOMOBILE','BUILDING','FURNITURE','HOUSEHOLD','MACHINERY'])[1 + floor(r(g, 10) * 5)::int],
  date '1995-01-01' + floor(r(g, 11) * 3650)::int
  FROM (SELECT g, nk, (ARRAY['ALGERIA','ARGENTINA','BRAZIL','CANADA','EGYPT','ETHIOPIA','FRANCE','GERMANY','INDIA','INDONESIA','IRAN',
    'IRAQ','JAPAN','JORDAN','KENYA','MOROCCO','MOZAMBIQUE','PERU','CHINA','ROMANIA','SAUDI ARABIA','VIETNAM','RUSSIA',
    'UNITED KINGDOM','UNITED STATES'])[1 + nk] AS nation
    FROM (SELECT g, floor(r(g, 8) * 25)::int AS nk FROM generate_series(1, ${n.customers}) g) s) s2;

CREATE UNLOGGED TABLE store (s_storekey int NOT NULL, s_name text, s_city text, s_region text, s_size int);
INSERT INTO store SELECT g, 'store ' || g, 'city ' || (g % 97), (ARRAY['north','south','east','west'])[1 + g % 4], 1 + floor(r(g, 12) * 100)::int
  FROM generate_series(1, 1000) g;

CREATE UNLOGGED TABLE promotion (pr_promokey int NOT NULL, pr_name text, pr_channel text, pr_discount int);
INSERT INTO promotion SELECT g, 'promo ' || g, (ARRAY['email','tv','radio','web','press'])[1 + g % 5], 5 + g % 30 FROM generate_series(1, 500) g;

-- Sales grow over time (day = DAYS * sqrt(u)), customers and products are skewed (u^2: low keys buy more), one
-- sale in ten has a promotion.
CREATE UNLOGGED TABLE sales (sale_id bigint NOT NULL, date_key int NOT NULL, customer_key int NOT NULL, product_key int NOT NULL,
  store_key int NOT NULL, promo_key int, quantity int NOT NULL, unit_price numeric(10,2) NOT NULL, discount int NOT NULL,
  revenue numeric(12,2) NOT NULL, ship_mode smallint NOT NULL);
INSERT INTO sales SELECT g, date_key, customer_key, product_key, store_key, promo_key, quantity, unit_price, discount,
  round(quantity * unit_price * (100 - discount) / 100, 2), ship_mode
  FROM (SELECT g, 1 + least(${DAYS - 1}, floor(${DAYS} * sqrt(r(g, 20)))::int) AS date_key,
    1 + floor(power(r(g, 21), 2) * ${n.customers})::int AS customer_key,
    1 + floor(power(r(g, 22), 1.5) * ${n.products})::int AS product_key,
    1 + floor(r(g, 23) * 1000)::int AS store_key,
    CASE WHEN r(g, 24) < 0.1 THEN 1 + floor(r(g, 25) * 500)::int END AS promo_key,
    1 + floor(r(g, 26) * 10)::int AS quantity, round((1 + r(g, 27) * 499)::numeric, 2) AS unit_price,
    floor(r(g, 28) * 11)::int AS discount, floor(r(g, 29) * 7)::smallint AS ship_mode
    FROM generate_series(1, ${n.sales}) g) s;

CREATE VIEW sales_detail AS
  SELECT f.sale_id, f.date_key, f.customer_key, f.product_key, f.store_key, f.quantity, f.revenue,
         d.d_year, d.d_month, c.c_nation, c.c_segment, c.c_region
  FROM sales f JOIN date_dim d ON d.d_datekey = f.date_key JOIN customer c ON c.c_custkey = f.customer_key;
`
}

/** After the load, in its own statement (VACUUM cannot run in the load's implicit transaction): statistics and the
 * visibility map, which index-only scan costs read. */
export const VACUUM_SQL = 'VACUUM (ANALYZE) date_dim, category, product, customer, store, promotion, sales'

/** The keyed variant adds these (and nothing else) to a copy of the keyless database. */
export const PRIMARY_KEYS_SQL = `
ALTER TABLE date_dim ADD PRIMARY KEY (d_datekey);
ALTER TABLE category ADD PRIMARY KEY (cat_id);
ALTER TABLE product ADD PRIMARY KEY (p_productkey);
ALTER TABLE customer ADD PRIMARY KEY (c_custkey);
ALTER TABLE store ADD PRIMARY KEY (s_storekey);
ALTER TABLE promotion ADD PRIMARY KEY (pr_promokey);
ALTER TABLE sales ADD PRIMARY KEY (sale_id);
ANALYZE;
`

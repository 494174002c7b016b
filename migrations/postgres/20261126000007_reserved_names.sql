-- Names an administrator reserved (`cheeseshop name reserve`): never served
-- from an upstream index, whether or not a local project has them.
CREATE TABLE reserved_names (
    normalized_name TEXT   PRIMARY KEY,
    reserved_at     BIGINT NOT NULL
);

-- The audit record of each order transition is written by the database, in the same statement
-- as the transition (one round trip instead of two). The order row carries who made its last
-- transition and why; the triggers copy that into the audit trail.
ALTER TABLE orders ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN transition_note TEXT NOT NULL DEFAULT '';
CREATE FUNCTION orders_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (order_number, actor, at, from_status, to_status, note)
    VALUES (NEW.number, NEW.actor, NEW.updated_at,
            CASE WHEN TG_OP = 'INSERT' THEN 'applied' ELSE OLD.status END,
            NEW.status, NEW.transition_note);
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_audit_insert AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_audit();
CREATE TRIGGER orders_audit_update AFTER UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_audit();

-- The audit record of each order transition is written by the database, in the same statement
-- as the transition (one round trip instead of two). The order row carries who made its last
-- transition and why; the triggers copy that into the audit trail.
ALTER TABLE orders ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN transition_note TEXT NOT NULL DEFAULT '';
CREATE TRIGGER orders_audit_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO audit (order_number, actor, at, from_status, to_status, note)
    VALUES (NEW.number, NEW.actor, NEW.updated_at, 'applied', NEW.status, NEW.transition_note);
END;
CREATE TRIGGER orders_audit_update AFTER UPDATE OF status ON orders
BEGIN
    INSERT INTO audit (order_number, actor, at, from_status, to_status, note)
    VALUES (NEW.number, NEW.actor, NEW.updated_at, OLD.status, NEW.status, NEW.transition_note);
END;

-- Reverts 0003_node_identity: forgets which key the database belongs to (the next start records it again).
DROP TABLE lnmux.node_identity;
